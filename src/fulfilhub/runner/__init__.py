"""The runner: jobs, the effects they deliver, and the schedule that runs them."""
