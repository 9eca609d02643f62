"""Faust and Kafka behind the service layer's ports; the table's byte format."""
