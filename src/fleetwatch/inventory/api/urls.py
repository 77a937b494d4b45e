from rest_framework.routers import DefaultRouter

from fleetwatch.inventory.api.views import DeviceViewSet, OrganizationViewSet

router = DefaultRouter()
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("devices", DeviceViewSet, basename="device")

urlpatterns = router.urls
