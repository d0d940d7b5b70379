"""A package: its test modules are named after the rule modules, names other test folders use too."""
