"""BC online's limits and a bad day in the cloud: throttling, faults, latency."""
