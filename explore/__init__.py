"""The sweep: which checkpoint, input size and precision to ship. Jobs (jobs.py) compile and
score one checkpoint at one size; the driver (driver.py: `sweep()`) runs them in a process pool
or on Ray (ray_pool.py), times every artifact together, and writes the Pareto front and
budgets' pick (pareto.py) as a report (report.py). Sits above compiler/, which never imports it."""
