"""Pages of the messaging core: messages log, phone simulator, channels admin, OTP tryout."""

urlpatterns: list = []
