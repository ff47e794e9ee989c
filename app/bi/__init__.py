"""BI access: SQL views for BI tools, and the read-only database roles that read them.

The views live in the schema ``bi`` (made by migration 0016, which documents every column with a
comment BI tools show):

- ``bi.calls`` — one row per call (``llm_call_log``);
- ``bi.daily_costs`` — calls, tokens and cost per UTC day, company and model (``rollup_model_day``);
- ``bi.prices_in_force`` — the ``model_price`` rows in force now, with their precedence.

They are ``security_invoker`` views: they read the tables with their reader's privileges, and the
tables have row-level security. A role made by :func:`app.bi.roles.make_role` (``flask costs
bi-role``) gets a policy of its own on each table a view reads — the rows :data:`COMPANY_ROWS`
shows one company's role, or every row — so it sees the same rows whether it reads a view or the
table behind it. Its company is its row in ``bi_role``, which shows each role its own row only.
The service's own role owns the tables and is not affected.
"""

SCHEMA = "bi"
VIEWS = ("calls", "daily_costs", "prices_in_force")

# For each table the views read, the rows a role of one company may read (`{company}`: the company
# its bi_role row names, read when a statement starts; kept out of the policy's text, which every
# role can read in pg_policies). A view reading a table not listed here cannot be granted
# (app.bi.roles refuses).
COMPANY_ROWS = {
    "llm_call_log": "company_id = {company}",
    "rollup_model_day": "company_id = {company}",
    "model_price": "company_id IS NULL OR company_id = {company}",  # global prices are everyone's
}
