"""The OData protocol as BC speaks it: EDMX model, paths, query options, values, errors, $batch."""
