"""Starting, watching and stopping the services Claude Code needs: the proxy and Ollama."""
