"""Operating systems the stack offers, and the look-up of Alibaba's current system image for one.

Alibaba names its public system images like ``ubuntu_22_04_x64_20G_alibase_20240926.vhd``; the
date suffix changes with every release, so the look-up matches a pattern and takes the most recent.
"""

from __future__ import annotations

import pulumi
import pulumi_alicloud as alicloud

# OS name in the stack config -> name pattern of Alibaba's x86_64 system images for it.
IMAGE_NAME_PATTERNS: dict[str, str] = {
    "ubuntu-22.04": r"^ubuntu_22_04_x64_20G_alibase_\d+\.vhd$",
    "ubuntu-24.04": r"^ubuntu_24_04_x64_20G_alibase_\d+\.vhd$",
    "debian-12": r"^debian_12_\d+_x64_20G_alibase_\d+\.vhd$",
    "alinux-3": r"^aliyun_3_(\d+_)?x64_20G_alibase_\d+\.vhd$",
}


def latest_system_image(
    os_name: str, instance_type: str, opts: pulumi.InvokeOutputOptions | None = None
) -> pulumi.Output[str]:
    """The id of the newest public image of ``os_name`` usable with ``instance_type``.

    The answer changes whenever Alibaba publishes a release: callers must not let that change
    reach a running instance (see ``Server``: the image id is under ``ignore_changes``).
    """
    result = alicloud.ecs.get_images_output(
        owners="system",
        name_regex=IMAGE_NAME_PATTERNS[os_name],
        most_recent=True,
        os_type="linux",
        architecture="x86_64",
        instance_type=instance_type,
        status="Available",
        opts=opts,
    )

    def first(images: list[alicloud.ecs.outputs.GetImagesImageResult]) -> str:
        if not images:
            raise pulumi.RunError(
                f"no Alibaba system image for {os_name} is available for {instance_type} in this "
                "region; choose another image or instance type, or pin one with "
                "`pulumi config set hardened-ecs:imageId <id>`"
            )
        return str(images[0].id)

    return result.images.apply(first)
