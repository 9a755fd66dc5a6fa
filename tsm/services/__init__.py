"""Application services: one transaction per operation, the domain rules applied to the database."""
