"""The one enrollment state machine.

- `transitions`: what each change does to an enrollment held in memory (exit, pause,
  resume, wait, defer, advance, finish, fail …) and the activity rows that record it,
  worded once.
- `navigator`: which step comes first and which follows another.
- `store`: writes the result, for one enrollment (services) or a whole batch (the
  processor), through the same columns and the same activity writer.

Nothing here imports the engine, the services or any other app's services: they all
call down into this package.
"""
