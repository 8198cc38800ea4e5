"""Operations on one host: apply, check, plan, rotate-host-key; what they report."""
