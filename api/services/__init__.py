"""The API's service layer: what mutations do, independent of GraphQL (the CLI reuses it)."""
