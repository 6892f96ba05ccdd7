"""What LLM SDKs send and return: requests, responses, stream accumulation, prices."""
