pytest_plugins = ["boomerang.devstack.testing"]
