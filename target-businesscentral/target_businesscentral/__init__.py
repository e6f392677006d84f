"""Singer target for Microsoft Dynamics 365 Business Central."""
