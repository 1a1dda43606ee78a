"""Server backends: the same lab server from local binaries or from a Docker container."""
