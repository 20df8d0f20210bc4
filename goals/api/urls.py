from rest_framework.routers import SimpleRouter

from goals.api import views

router = SimpleRouter()
router.register("", views.GoalViewSet, basename="api-goal")

urlpatterns = router.urls
