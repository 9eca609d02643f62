"""SQL stores and the Kafka publisher behind the service layer's ports."""
