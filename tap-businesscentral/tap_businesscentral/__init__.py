"""Singer tap for Microsoft Dynamics 365 Business Central."""
