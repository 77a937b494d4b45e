"""Organizations, people's memberships, locations and devices (with their agent keys)."""
