# userfaultfd in the packaged kernel, as usm's fault engine uses it, and the
# usm binary running in the guest against that kernel.
. /usm/guest-lib.sh

uffd_roundtrip
check "usm runs in the guest" usm --version
check "usm features sees kernel faults as root" sh -c 'usm features --json | grep -Eq "\"uffd_kernel_faults\": ?true"'
