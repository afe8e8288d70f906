"""The tutorial's API: a cloud on a shared folder, and the pure functions registered with it."""
