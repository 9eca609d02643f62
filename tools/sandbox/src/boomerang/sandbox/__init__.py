"""Local stand-in for SendGrid's and Twilio's HTTP APIs (dev, demo, tests)."""
