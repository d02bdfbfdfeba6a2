"""The target catalogue and the processes: starting, pinning, sampling and stopping servers."""
