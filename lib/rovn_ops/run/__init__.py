"""Running a runbook: the runner (papermill), the context, kernels, progress."""
