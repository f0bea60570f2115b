"""What the tests share: servers, clients and fakes."""
