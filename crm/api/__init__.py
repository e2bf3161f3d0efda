"""The REST API (``/api/v1/``): Django REST framework views over the same services the pages use.

One rule set with the pages: roles decide which endpoints and actions a user reaches (``permissions``),
querysets are scoped per role and writes are checked per object, and service staff never receive margin,
cost, revenue or CLV fields (``fields.FinancialFieldsMixin``). Writes go through the services in
``crm.services``, ``profitability.configuration`` and ``campaigns.services`` so history, audit and
recompute rules hold whichever door a change comes through.
"""
