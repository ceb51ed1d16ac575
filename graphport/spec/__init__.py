"""What a user asks for, parsed and checked: option groups, values, the signature."""
