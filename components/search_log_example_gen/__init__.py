"""SearchLogExampleGen: validating ExampleGen for the search-log CSV (rules.py holds the rule table)."""
