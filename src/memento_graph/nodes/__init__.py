"""The nodes of the Memento graph, one per file."""
