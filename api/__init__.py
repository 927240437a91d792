"""The GraphQL API over PostgreSQL (issue: GraphQL API on PostgreSQL). Not built yet."""
