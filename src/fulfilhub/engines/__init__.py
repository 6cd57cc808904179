"""The engines: lifecycle, intake, routing, inventory (and later promise, delays, compensation, notify, kpi)."""
