"""`python -m agentgit_langgraph`: the `agentgit` command line."""

from agentgit_langgraph.cli import main

if __name__ == "__main__":
    main()
