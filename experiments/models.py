"""A/B experiments on journey split nodes (issue 14): filled by the experiments work."""
