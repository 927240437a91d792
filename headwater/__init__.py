"""The composition root: the `headwater` command wires settings into every component."""
