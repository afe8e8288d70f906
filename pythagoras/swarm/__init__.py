"""Layer 4: the swarm protocol (``docs/protocol.md``): its records and their transitions, the
peer, its workers and engines, file watching, and the events that front-ends listen to."""
