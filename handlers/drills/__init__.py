"""Recovery drills for buckets and tables, and the rule both use to judge them."""
