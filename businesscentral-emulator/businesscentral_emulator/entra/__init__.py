"""Microsoft Entra ID as BC's clients meet it: the model (service) apart from its HTTP face."""
