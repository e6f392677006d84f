"""The Business Central client shared by the tap and the target."""
