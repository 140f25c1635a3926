"""Analytics and the owner's daily report: definitions, SQL queries, a pure model, renderers."""
