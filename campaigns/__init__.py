"""Campaigns: loyalty programs, upsell and cross-sell opportunities, segments and targeted campaigns."""
