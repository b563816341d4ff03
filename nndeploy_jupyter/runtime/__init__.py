"""Code that runs in child processes (graph workers, the catalogue probe) and the server-side supervisor.

Modules here that import nndeploy are only ever imported inside a child process.
"""
