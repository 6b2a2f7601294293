"""What is installed and what was asked for: distributions, requirements, versions, install-time checks."""
