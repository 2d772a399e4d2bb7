"""Define / Inspect / Coach / Improve: the sales plan, plan-vs-actual, signals and reports."""
