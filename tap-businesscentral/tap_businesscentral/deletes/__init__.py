"""Delete detection: BC has no delta links, so keys read now are compared with keys read before."""
