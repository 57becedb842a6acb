"""The Twilio-compatible Calls API under ``/2010-04-01/Accounts/{AccountSid}/``."""
