"""The pages of the people who run the CRM (administrators): the switches for a bad day."""
