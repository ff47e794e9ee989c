"""marshmallow schemas for requests and responses; the OpenAPI document is generated from them."""
