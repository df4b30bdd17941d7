"""Provider webhooks: Twilio (inbound SMS, status callbacks) and inbound email."""
