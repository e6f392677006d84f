"""BC's business rules on writes, per entity set: validation, references, documents, writes."""
