"""In-process simulation: a labeled file streamed through the core engine with an oracle reviewer."""
