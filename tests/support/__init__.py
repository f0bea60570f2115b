"""What the tests share (no test module imports another): servers, clients, raw frames, plain
HTTP, commands, services, fakes."""
